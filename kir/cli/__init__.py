"""Command-line tools (`kir-export`)."""
