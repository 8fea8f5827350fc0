package wavenet

import "testing"

// FuzzParseConfig: any bytes give a config error or a config that validates, whose
// receptive field and hop are computable.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"out_channels":256,"layers":20,"stacks":2,"residual_channels":64,"gate_channels":128,"skip_out_channels":256,"kernel_size":2,"cin_channels":80,"upsample_scales":[4,4,4,4]}`))
	f.Add([]byte(`{"out_channels":30,"layers":4,"stacks":2,"residual_channels":8,"gate_channels":16,"skip_out_channels":12,"kernel_size":2,"scalar_input":true,"output":"mol"}`))
	f.Add([]byte(`{"layers":3,"stacks":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if c.Hop() < 1 || c.ReceptiveField() < 1 {
			t.Fatalf("hop %d, receptive field %d", c.Hop(), c.ReceptiveField())
		}
		if _, err := ParamShapes(c); err != nil {
			t.Fatalf("valid config without parameter shapes: %v", err)
		}
	})
}
