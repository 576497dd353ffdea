"""What apps embed: standard library only, importing nothing else from erroracle."""

from erroracle.client.scrubber import Scrubber, scrub_text, scrub_value

__all__ = ["Scrubber", "scrub_text", "scrub_value"]
