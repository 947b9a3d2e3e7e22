"""The base of the components that keep their args and give every child ``parent=self``."""

from __future__ import annotations

from typing import Generic, TypeVar

import pulumi

ArgsT = TypeVar("ArgsT")


class Component(pulumi.ComponentResource, Generic[ArgsT]):
    """A ComponentResource holding its name (the children's prefix), its args and child options."""

    def __init__(self, type_token: str, name: str, args: ArgsT,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(type_token, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
