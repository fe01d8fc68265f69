"""AlgoPerf's WMT workloads: German -> English Transformer, BLEU by beam search (full scale)."""
