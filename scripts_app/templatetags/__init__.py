"""Template tags of the Parseq admin."""
