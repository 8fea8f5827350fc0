package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/plexusml/plexus/core/dataset"
)

// committer writes finished records to the sinks (in input order when the pipeline
// asks for it) and commits them to the ledger in groups.
type committer struct {
	r       *Runner
	ring    []*Record // reorder buffer, indexed by seq modulo the window
	next    uint64
	pending []string // ids written since the last commit
	offsets map[string]int64
	entry   dataset.Entry
	fail    dataset.Failure
	last    time.Time
}

func (r *Runner) commitLoop(ctx context.Context) error {
	c := &committer{r: r, offsets: map[string]int64{}, last: time.Now()}
	if r.ordered {
		c.ring = make([]*Record, cap(r.window))
	}
	tick := time.NewTicker(r.o.CommitInterval)
	defer tick.Stop()
	for {
		select {
		case rec, ok := <-r.done:
			if !ok {
				return c.commit()
			}
			if err := c.accept(rec); err != nil {
				c.commit()
				return err
			}
			if len(c.pending) >= r.o.CommitEvery {
				if err := c.commit(); err != nil {
					return err
				}
			}
		case <-tick.C:
			if time.Since(c.last) >= r.o.CommitInterval {
				if err := c.commit(); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			// Whatever reached the sinks is committed; the rest is redone next run.
			return c.commit()
		}
	}
}

func (c *committer) accept(rec *Record) error {
	if c.ring == nil {
		return c.emit(rec)
	}
	n := uint64(len(c.ring))
	if rec.seq-c.next >= n {
		return fmt.Errorf("engine: item %q (#%d) arrived outside the reorder window [%d, %d)", rec.ID, rec.seq, c.next, c.next+n)
	}
	c.ring[rec.seq%n] = rec
	for {
		x := c.ring[c.next%n]
		if x == nil {
			return nil
		}
		c.ring[c.next%n] = nil
		c.next++
		if err := c.emit(x); err != nil {
			return err
		}
	}
}

func (c *committer) emit(rec *Record) error {
	r := c.r
	e := &c.entry
	e.ID, e.Modality, e.Source, e.Fields, e.Provenance = rec.ID, rec.Modality, rec.Source, rec.Fields, r.prov
	if f := rec.fail; f != nil {
		r.stats.failed.Add(1)
		switch f.policy.kind {
		case "dead-letter":
			c.fail.Entry = *e
			c.fail.Entry.Provenance = nil
			c.fail.Stage, c.fail.Err, c.fail.Attempts = f.stage, f.err.Error(), f.attempts
			if err := f.policy.dead.WriteFailure(&c.fail); err != nil {
				return err
			}
			r.log.Warn("item dead-lettered", "id", rec.ID, "stage", f.stage, "err", f.err)
		default:
			r.log.Warn("item skipped", "id", rec.ID, "stage", f.stage, "err", f.err)
		}
	} else {
		for _, s := range r.sinks {
			if err := s.Write(e); err != nil {
				return err
			}
		}
		r.stats.done.Add(1)
		r.stats.byModality[modalityIndex(rec.Modality)].Add(1)
	}
	c.pending = append(c.pending, rec.ID)
	*e = dataset.Entry{}
	if rec.Item != nil {
		rec.Item.Release() // the payload is done with; keep memory to what is in flight
	}
	if r.o.InFlight != nil {
		r.o.InFlight(-1) // before the token goes back, so the count never overshoots
	}
	<-r.window
	return nil
}

// commit makes every sink durable and then records the written ids and the sinks'
// offsets in the ledger: one fsync per sink and one for the ledger per group.
func (c *committer) commit() error {
	r := c.r
	c.last = time.Now()
	if len(c.pending) == 0 {
		return nil
	}
	clear(c.offsets)
	for _, s := range r.sinks {
		off, err := s.Sync()
		if err != nil {
			return err
		}
		if off >= 0 {
			c.offsets[s.Name()] = off
		}
	}
	for _, d := range r.dead {
		off, err := d.Sync()
		if err != nil {
			return err
		}
		c.offsets[d.Name()] = off
	}
	if r.ledger != nil {
		if err := r.ledger.Commit(c.pending, c.offsets); err != nil {
			return err
		}
	}
	r.stats.committed.Add(int64(len(c.pending)))
	r.stats.commits.Add(1)
	clear(c.pending)
	c.pending = c.pending[:0]
	return nil
}
