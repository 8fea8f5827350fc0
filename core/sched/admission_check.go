package sched

import (
	"strings"

	"github.com/plexusml/plexus/core/pipeline"
)

// CheckPlacement reports, as positioned diagnostics, every stage of p that cannot be
// placed on devs: a stage that asks for a device kind the machine lacks is reported
// at its resources.device, one whose instances do not fit in memory at its
// resources.memory (or at the stage when those keys are not written). Stages are
// first placed one at a time, so each impossible stage gets its own message; when
// each fits alone but not all together, the first stage that no longer fits is
// reported. No diagnostics means Place(devs, Requests(p)) succeeds.
func CheckPlacement(p *pipeline.Pipeline, devs []Device) pipeline.Diagnostics {
	reqs := Requests(p)
	var ds pipeline.Diagnostics
	has := map[Kind]bool{}
	for _, d := range devs {
		has[d.Kind] = true
	}
	at := func(r Request) string {
		key := "resources.memory"
		switch k := Kind(strings.ToLower(r.Device)); {
		case k == GPU || k == CPU:
			if !has[k] {
				key = "resources.device"
			}
		case !has[GPU] && !has[CPU]:
			key = "resources.device"
		}
		return "stages." + r.Stage + "." + key
	}
	for _, r := range reqs {
		if _, err := Place(devs, []Request{r}); err != nil {
			ds = append(ds, p.At(at(r), "%s", err.Error()))
		}
	}
	if len(ds) > 0 {
		return ds
	}
	for i := range reqs {
		if _, err := Place(devs, reqs[:i+1]); err != nil {
			ds = append(ds, p.At(at(reqs[i]), "%s, beside the stages before it", err.Error()))
			break
		}
	}
	return ds
}
