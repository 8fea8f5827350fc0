package sched

// Fair sharing of one device is start-time fair queueing (SFQ) at two levels: between
// the pipelines one process runs, then between the stages of the chosen pipeline.
// Each flow keeps a virtual finish tag; the next batch goes to the flow whose start tag
// (its finish tag, but never below the device's virtual clock) is smallest, and running
// a batch advances the tag by device time ÷ weight. Lifting idle flows to the virtual
// clock stops a flow from banking credit while it had nothing to run, so a pipeline
// that wakes up gets its share, not a burst.

// sfq is the fair-queueing state of one level on one device.
type sfq struct {
	clock  float64            // virtual time: the start tag of the last flow served
	finish map[string]float64 // flow -> virtual finish tag
}

func (q *sfq) start(flow string) float64 {
	f := q.finish[flow]
	if f < q.clock {
		return q.clock
	}
	return f
}

// serve records that flow was picked and charged cost (seconds of device time) at
// weight w.
func (q *sfq) serve(flow string, cost, w float64) {
	if q.finish == nil {
		q.finish = map[string]float64{}
	}
	s := q.start(flow)
	q.clock = s
	q.finish[flow] = s + cost/w
}

// adjust corrects a flow's tag once the real cost of a batch charged at an estimate is
// known (never below the virtual clock, so an over-estimate is not banked either).
func (q *sfq) adjust(flow string, delta, w float64) {
	if q.finish == nil {
		q.finish = map[string]float64{}
	}
	f := q.finish[flow] + delta/w
	if f < q.clock {
		f = q.clock
	}
	q.finish[flow] = f
}

// fairness is one device's two-level SFQ state.
type fairness struct {
	pipelines sfq
	stages    map[string]*sfq // per pipeline
}

func (f *fairness) stageLevel(pipeline string) *sfq {
	if f.stages == nil {
		f.stages = map[string]*sfq{}
	}
	q := f.stages[pipeline]
	if q == nil {
		q = &sfq{}
		f.stages[pipeline] = q
	}
	return q
}

// pick chooses among candidates: the pipeline with the smallest start tag, then within
// it the highest priority, then the stage with the smallest start tag. Ties go to the
// earlier candidate, which keeps the choice deterministic.
func (f *fairness) pick(cands []*stageState) *stageState {
	var best *stageState
	var bestP, bestS float64
	for _, c := range cands {
		p := f.pipelines.start(c.cfg.Pipeline)
		s := f.stageLevel(c.cfg.Pipeline).start(c.cfg.Name)
		switch {
		case best == nil:
		case p < bestP:
		case p > bestP:
			continue
		case c.cfg.Priority > best.cfg.Priority:
		case c.cfg.Priority < best.cfg.Priority:
			continue
		case s < bestS:
		default:
			continue
		}
		best, bestP, bestS = c, p, s
	}
	return best
}

func (f *fairness) charge(st *stageState, pipelineWeight, cost float64) {
	f.pipelines.serve(st.cfg.Pipeline, cost, pipelineWeight)
	f.stageLevel(st.cfg.Pipeline).serve(st.cfg.Name, cost, float64(st.cfg.Weight))
}

func (f *fairness) correct(st *stageState, pipelineWeight, delta float64) {
	f.pipelines.adjust(st.cfg.Pipeline, delta, pipelineWeight)
	f.stageLevel(st.cfg.Pipeline).adjust(st.cfg.Name, delta, float64(st.cfg.Weight))
}
