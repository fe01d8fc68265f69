"""librispeech"""
