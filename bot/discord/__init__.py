"""The Discord side of the core: the Bot subclass, its runner, and the ledger service it calls off the loop."""
