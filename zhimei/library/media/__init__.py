"""Media tools behind the library's audio/video/image stages: probe, normalize, shots, keyframes, images."""
