// Package nn provides inference layers over core/kernels (Linear, Conv1d/Conv2d with
// BatchNorm folded in, LSTM, multi-head attention, LayerNorm, GroupNorm, Embedding,
// pooling) that load PyTorch state-dict names through a weights.Binder. It also fixes
// the model-building style the vision, nlp and speech packages share.
//
// # Building a model
//
// A model is a plain struct of layers. Its constructor takes a *weights.Binder and a
// small config, builds every layer from a name prefix, and returns Binder.Err at the
// end, so that one error lists every missing, unexpected and wrong-shape tensor of the
// file:
//
//	type Block struct{ conv1, conv2 *nn.Conv2d }
//
//	func NewBlock(b *weights.Binder, p string) *Block {
//		return &Block{
//			conv1: nn.NewConvBN(b, p+".conv1", p+".bn1", nn.Conv2dConfig{Padding: nn.Sq(1), ReLU: true}),
//			conv2: nn.NewConvBN(b, p+".conv2", p+".bn2", nn.Conv2dConfig{Padding: nn.Sq(1), ReLU: true}),
//		}
//	}
//
// Layer constructors never fail: they record problems on the Binder and leave the layer
// unusable, which is why the model returns b.Err() before anyone calls Forward. Sizes
// come from the weights wherever PyTorch's state dict implies them (a Linear's in and
// out features, a convolution's channels and kernel, an LSTM's hidden size and layer
// count); the config carries only what the file does not record (strides, padding,
// groups, heads, eps). BatchNorm is folded into the convolution before it at load time
// (NewConvBN, NewConv1dBN); a checkpoint's num_batches_tracked is accepted and unused.
//
// # Running a model
//
// Activations are Act values: float32 data with a shape, cheap to pass and return. Every
// layer's Forward takes an *Arena and returns its output in arena memory:
//
//	func (m *Block) Forward(a *nn.Arena, x nn.Act) nn.Act {
//		h := m.conv1.Forward(a, x)
//		return m.conv2.ForwardAdd(a, h, x) // residual added before the fused ReLU
//	}
//
// The caller owns one Arena per goroutine and calls Reset before each pass. The first
// pass at the largest batch sizes the arena (NewArena(size) does it up front, with the
// figure Arena.Size reports), and from then on a pass allocates nothing: layers use the
// arena for outputs and temporaries, and the arena's kernels.Workspace for kernel
// scratch. Outputs stay valid until the next Reset: copy out what must outlive the pass.
// A nil *Arena allocates every buffer, which suits tests and one-off calls. Layers that
// also take caller-owned memory have ForwardInto. Add and Concat join activations
// (residuals, Inception branches); single-input layers satisfy Layer, and Sequential
// chains them like torch.nn.Sequential.
//
// # Sharing and weights memory
//
// Layers are read-only after construction, so one model serves many goroutines, each
// with its own Arena (and LSTMState). Parameters bound from a memory-mapped safetensors
// file share its memory: keep the weights.Store open as long as the model, or bind with
// weights.CopyData(). Folded and fused parameters (NewConvBN, LSTM biases, BERT's
// query/key/value) are the layer's own copies; the file's memory is never written.
package nn
