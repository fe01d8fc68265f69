"""librispeech_conformer"""
