package sched_test

import (
	"context"
	"fmt"
	"time"

	"github.com/plexusml/plexus/core/sched"
)

// An engine hands a stage's items to the Dispatcher and each instance's worker takes
// the batches chosen for it.
func ExampleDispatcher() {
	devs := []sched.Device{{ID: "gpu0", Kind: sched.GPU, Memory: 8 << 30}, {ID: "cpu", Kind: sched.CPU, Memory: 16 << 30}}
	placed, err := sched.Place(devs, []sched.Request{{Stage: "classify", Device: "gpu", Memory: 1 << 30, Min: 1, Max: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := sched.NewScheduler[string](devs, sched.SchedulerOptions{})
	stage, err := s.AddStage(sched.StageConfig{Pipeline: "demo", Name: "classify",
		Batch: sched.BatchOptions{Max: 4, Delay: 5 * time.Millisecond}, InstanceMemory: 1 << 30}, placed)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := sched.NewDispatcher(s, sched.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	defer d.Close()

	for _, id := range []string{"a", "b", "c", "d"} {
		if err := d.Submit(ctx, stage, id, 0); err != nil {
			fmt.Println(err)
			return
		}
	}
	b, err := d.Next(ctx, stage, placed[0].Instance)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Items, "on", b.Device, placed[0].Env()[0])
	d.Done(b)
	// Output: [a b c d] on gpu0 CUDA_VISIBLE_DEVICES=0
}
