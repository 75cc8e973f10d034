"""Built-in scorers: utility of each frame for annotation (higher = more worth annotating)."""
