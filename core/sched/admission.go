package sched

import "fmt"

// Admission control: a device's memory holds the instances placed on it (their
// Request.Memory, reserved for as long as they live) and the working memory of the
// batches running on it (StageConfig.ItemMemory per item). A batch starts only when its
// working memory fits beside what already runs; otherwise it waits, and other stages'
// batches that fit may go first. Batches are also cut no larger than the whole budget
// of the instance's device, so a batch never waits for memory that cannot exist.

// memory is one device's memory account.
type memory struct {
	total    int64 // Device.Memory
	reserved int64 // instances placed on the device
	inUse    int64 // working memory of running batches
}

// budget is what batches may use at most on the device.
func (m *memory) budget() int64 { return m.total - m.reserved }

func (m *memory) fits(n int64) bool { return n <= 0 || m.inUse+n <= m.budget() }

// capItems is the largest batch whose working memory fits the device's budget, at most
// max; 0 when not even one item fits.
func (m *memory) capItems(itemMem int64, max int) int {
	if itemMem <= 0 {
		return max
	}
	n := m.budget() / itemMem
	if n < int64(max) {
		return int(max64(n, 0))
	}
	return max
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// reserve accounts an instance's memory on its device when a stage is added.
func (m *memory) reserve(dev, stage string, inst int, n int64) error {
	if n > 0 && m.reserved+n > m.total {
		return fmt.Errorf("stage %s instance %d: %s does not fit on %s (%s of %s already reserved)",
			stage, inst, FormatBytes(n), dev, FormatBytes(m.reserved), FormatBytes(m.total))
	}
	m.reserved += n
	return nil
}
