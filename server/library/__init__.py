"""The condition library: content files and their loader."""
