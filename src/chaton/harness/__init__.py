"""Test harness: Docker engine, local Debian systemd images, Molecule scenarios."""
