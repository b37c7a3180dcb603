"""Unit tests of connectors: clients against the demo platform on loopback, fakes and replayed HTTP."""
