"""The `c360` command line (typer + rich)."""
