"""librispeech_deepspeech"""
