// Package wav2vec2 is torchaudio's wav2vec 2.0 model (wav2vec2_model: base, large,
// large-lv60k and custom shapes) for inference, loading torchaudio's state_dict names
// from safetensors or .pth files and turning waveforms into CTC emissions. It
// implements speech/ctc's Acoustic, so torchaudio's WAV2VEC2_ASR_BASE_960H weights
// transcribe through the speech plugin.
//
// # Input
//
// Emissions and Forward take mono float waveforms at the model's rate (16 kHz), in
// [−1, 1] as torchaudio.load returns them. The model does not normalise its input
// unless config.json says "normalize_waveform": true; torchaudio's
// WAV2VEC2_ASR_BASE_960H pipeline does not normalise either, so leave it false for
// that bundle and set it for bundles that later torchaudio releases mark
// _normalize_waveform (large-lv60k and XLS-R fine-tunes).
//
// # Batches
//
// A batch may mix lengths. Each waveform yields Frames(len) frames, torchaudio's
// length arithmetic. The convolutional parts run per waveform over its own length and
// the Transformer masks padded frames, so a waveform's emissions do not depend on its
// batch: they equal torchaudio's output for that waveform alone. (torchaudio's own
// batched forward on a group-norm model differs slightly, since its first-layer group
// norm averages over the padding; Options.BatchStats reproduces that.)
//
// # Layout
//
// Activations are time-major (frames × channels) throughout, so every extractor
// convolution is one GEMM over a strided view of its input and the first layer's group
// norm folds into its weights from the input's window statistics.
package wav2vec2
