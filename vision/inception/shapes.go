package inception

// Shapes returns the state-dict shapes of torchvision's full-size Inception-v3 (without
// the auxiliary classifier) for numClasses classes: what Load expects of a standard
// checkpoint, and what benchmarks fill with random weights.
func Shapes(numClasses int) map[string][]int {
	s := map[string][]int{}
	conv := func(name string, in, out, kh, kw int) {
		s[name+".conv.weight"] = []int{out, in, kh, kw}
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var"} {
			s[name+".bn."+leaf] = []int{out}
		}
		s[name+".bn.num_batches_tracked"] = []int{}
	}
	conv("Conv2d_1a_3x3", 3, 32, 3, 3)
	conv("Conv2d_2a_3x3", 32, 32, 3, 3)
	conv("Conv2d_2b_3x3", 32, 64, 3, 3)
	conv("Conv2d_3b_1x1", 64, 80, 1, 1)
	conv("Conv2d_4a_3x3", 80, 192, 3, 3)
	a := func(p string, in, pool int) int {
		conv(p+".branch1x1", in, 64, 1, 1)
		conv(p+".branch5x5_1", in, 48, 1, 1)
		conv(p+".branch5x5_2", 48, 64, 5, 5)
		conv(p+".branch3x3dbl_1", in, 64, 1, 1)
		conv(p+".branch3x3dbl_2", 64, 96, 3, 3)
		conv(p+".branch3x3dbl_3", 96, 96, 3, 3)
		conv(p+".branch_pool", in, pool, 1, 1)
		return 64 + 64 + 96 + pool
	}
	c := func(p string, in, c7 int) int {
		conv(p+".branch1x1", in, 192, 1, 1)
		conv(p+".branch7x7_1", in, c7, 1, 1)
		conv(p+".branch7x7_2", c7, c7, 1, 7)
		conv(p+".branch7x7_3", c7, 192, 7, 1)
		conv(p+".branch7x7dbl_1", in, c7, 1, 1)
		conv(p+".branch7x7dbl_2", c7, c7, 7, 1)
		conv(p+".branch7x7dbl_3", c7, c7, 1, 7)
		conv(p+".branch7x7dbl_4", c7, c7, 7, 1)
		conv(p+".branch7x7dbl_5", c7, 192, 1, 7)
		conv(p+".branch_pool", in, 192, 1, 1)
		return 768
	}
	e := func(p string, in int) int {
		conv(p+".branch1x1", in, 320, 1, 1)
		conv(p+".branch3x3_1", in, 384, 1, 1)
		conv(p+".branch3x3_2a", 384, 384, 1, 3)
		conv(p+".branch3x3_2b", 384, 384, 3, 1)
		conv(p+".branch3x3dbl_1", in, 448, 1, 1)
		conv(p+".branch3x3dbl_2", 448, 384, 3, 3)
		conv(p+".branch3x3dbl_3a", 384, 384, 1, 3)
		conv(p+".branch3x3dbl_3b", 384, 384, 3, 1)
		conv(p+".branch_pool", in, 192, 1, 1)
		return 2048
	}
	ch := a("Mixed_5b", 192, 32)
	ch = a("Mixed_5c", ch, 64)
	ch = a("Mixed_5d", ch, 64)
	conv("Mixed_6a.branch3x3", ch, 384, 3, 3)
	conv("Mixed_6a.branch3x3dbl_1", ch, 64, 1, 1)
	conv("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3)
	conv("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)
	ch = 384 + 96 + ch
	ch = c("Mixed_6b", ch, 128)
	ch = c("Mixed_6c", ch, 160)
	ch = c("Mixed_6d", ch, 160)
	ch = c("Mixed_6e", ch, 192)
	conv("Mixed_7a.branch3x3_1", ch, 192, 1, 1)
	conv("Mixed_7a.branch3x3_2", 192, 320, 3, 3)
	conv("Mixed_7a.branch7x7x3_1", ch, 192, 1, 1)
	conv("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7)
	conv("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1)
	conv("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)
	ch = 320 + 192 + ch
	ch = e("Mixed_7b", ch)
	ch = e("Mixed_7c", ch)
	s["fc.weight"] = []int{numClasses, ch}
	s["fc.bias"] = []int{numClasses}
	return s
}
