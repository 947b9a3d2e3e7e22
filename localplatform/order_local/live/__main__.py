"""``python -m order_local.live``: the same as ``order-local top``."""

import argparse
import sys

from order_local.live import __doc__ as usage
from order_local.live import add_arguments, run

parser = argparse.ArgumentParser(prog="order-local top", description=usage.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
add_arguments(parser)
sys.exit(run(parser.parse_args()))
