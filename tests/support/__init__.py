"""Test support: fake servers for the systems mastery-bridge talks to."""
