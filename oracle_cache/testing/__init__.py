"""Test helpers that ship with the package (a loopback fake VLM server)."""
