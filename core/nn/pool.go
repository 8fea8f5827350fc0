package nn

import "github.com/plexusml/plexus/core/kernels"

// MaxPool2d is torch.nn.MaxPool2d (floor mode, no dilation) over NCHW activations. A
// zero Stride means the kernel size, as in PyTorch.
type MaxPool2d struct {
	Kernel, Stride, Padding [2]int
}

// AvgPool2d is torch.nn.AvgPool2d (floor mode). ExcludePad is count_include_pad=False;
// the zero value divides by the whole window, PyTorch's default.
type AvgPool2d struct {
	Kernel, Stride, Padding [2]int
	ExcludePad              bool
}

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d: Out is the output (height, width),
// {1, 1} for the global pooling before a classifier.
type AdaptiveAvgPool2d struct {
	Out [2]int
}

func poolParams(name string, x Act, k, s, p [2]int) kernels.Pool2dParams {
	checkRank(name, x, 4)
	return kernels.Pool2dParams{N: x.dims[0], C: x.dims[1], H: x.dims[2], W: x.dims[3],
		KH: k[0], KW: k[1], StrideH: s[0], StrideW: s[1], PadH: p[0], PadW: p[1]}
}

// Forward pools x into a new activation from the arena.
func (m MaxPool2d) Forward(a *Arena, x Act) Act {
	p := poolParams("maxpool2d", x, m.Kernel, m.Stride, m.Padding)
	y := a.Act(p.N, p.C, p.OutH(), p.OutW())
	kernels.MaxPool2d(p, x.Data, y.Data)
	return y
}

// Forward pools x into a new activation from the arena.
func (m AvgPool2d) Forward(a *Arena, x Act) Act {
	p := poolParams("avgpool2d", x, m.Kernel, m.Stride, m.Padding)
	p.CountIncludePad = !m.ExcludePad
	y := a.Act(p.N, p.C, p.OutH(), p.OutW())
	kernels.AvgPool2d(p, x.Data, y.Data)
	return y
}

// Forward pools x into a new N×C×Out[0]×Out[1] activation from the arena.
func (m AdaptiveAvgPool2d) Forward(a *Arena, x Act) Act {
	checkRank("adaptiveavgpool2d", x, 4)
	n, c := x.dims[0], x.dims[1]
	y := a.Act(n, c, m.Out[0], m.Out[1])
	kernels.AdaptiveAvgPool2d(n, c, x.dims[2], x.dims[3], m.Out[0], m.Out[1], x.Data, y.Data)
	return y
}
