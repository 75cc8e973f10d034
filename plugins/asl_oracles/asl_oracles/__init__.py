"""Built-in ASL oracles: who turns selected frames into annotations."""
