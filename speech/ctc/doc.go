// Package ctc decodes the output of CTC acoustic models into text: log-softmax, greedy and
// prefix beam search with an optional character n-gram language model, word timestamps from
// the alignment, chunked inference for long audio, and WER/CER scoring.
// Recognisers (speech/asr, speech/wav2vec2) implement Acoustic; the speech plugin and the
// CLI drive them through this package.
package ctc
