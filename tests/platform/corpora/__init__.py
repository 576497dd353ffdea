"""Corpora of real and documented texts the scrubber and the trace reader are measured on."""
