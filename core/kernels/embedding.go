package kernels

import "fmt"

// Embedding copies row ids[i] of table (rows×dim) to row i of out. An id outside the
// table is an error naming its position, since ids come from user data.
func Embedding(table []float32, dim int, ids []int64, out []float32) error {
	rows := int64(len(table) / dim)
	for i, id := range ids {
		if id < 0 || id >= rows {
			return fmt.Errorf("embedding: id %d at position %d outside the table's %d rows", id, i, rows)
		}
		copy(out[i*dim:(i+1)*dim], table[id*int64(dim):(id+1)*int64(dim)])
	}
	return nil
}
