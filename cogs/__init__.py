"""Discord adapters: each cog parses input, calls the core, renders, and responds once."""
