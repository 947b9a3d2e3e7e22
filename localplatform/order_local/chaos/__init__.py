"""`make chaos`: faults injected into the local platform while it takes orders, and the
invariants that must hold after each (nothing lost, applied twice, oversold or dead-lettered)."""
