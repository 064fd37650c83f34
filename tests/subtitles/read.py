#!/usr/bin/env python3
"""Read subtitle files with published subtitle libraries, independent of
clipwatch: `srt` (python3-srt) for SubRip and `webvtt-py` (python3-webvtt)
for WebVTT. Prints one JSON object: {"srt": [...], "vtt": [...]}, each cue
as [start_ms, end_ms, text]. Exit 3 when a library is missing.

Usage: read.py FILE.srt FILE.vtt
"""
import json
import sys

try:
    import srt
    import webvtt
except ImportError as err:
    print(f"missing subtitle library: {err}", file=sys.stderr)
    sys.exit(3)


def ms(delta):
    return round(delta.total_seconds() * 1000)


def vtt_ms(stamp):
    hours, minutes, seconds = stamp.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


def main():
    srt_path, vtt_path = sys.argv[1], sys.argv[2]
    with open(srt_path, encoding="utf-8") as f:
        # strict: srt.parse raises SRTParseError on anything it cannot read.
        srt_cues = [[ms(c.start), ms(c.end), c.content] for c in srt.parse(f.read())]
    vtt_cues = [[vtt_ms(c.start), vtt_ms(c.end), c.raw_text] for c in webvtt.read(vtt_path)]
    print(json.dumps({"srt": srt_cues, "vtt": vtt_cues}))


main()
