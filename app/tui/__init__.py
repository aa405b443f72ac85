"""The Textual workstation: screens over core, never SQL of their own."""
