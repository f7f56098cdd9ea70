"""Format sniffing from the first bytes: an ID3 tag in front of FLAC (as C2PA-signed FLAC files have) is FLAC."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mutagen.id3 import ID3, TXXX

from zhimei.library.assets import sniff


def test_id3_tag_in_front_of_flac_is_flac_and_plain_id3_is_mp3(tmp_path, ffmpeg):
    flac = tmp_path / "tone.flac"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=0.5", str(flac)], check=True)
    tag = ID3()
    tag.add(TXXX(desc="AIGC", text='{"Label": "1"}'))
    tag.save(tmp_path / "tag.bin")
    tagged = tmp_path / "tagged.flac"
    tagged.write_bytes((tmp_path / "tag.bin").read_bytes() + flac.read_bytes())
    assert sniff(flac) == ("audio", "audio/flac")
    assert sniff(tagged) == ("audio", "audio/flac")
    mp3 = tmp_path / "tone.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=0.5", "-id3v2_version", "3",
                    "-metadata", "title=x", str(mp3)], check=True)
    assert Path(mp3).read_bytes()[:3] == b"ID3"
    assert sniff(mp3) == ("audio", "audio/mpeg")
