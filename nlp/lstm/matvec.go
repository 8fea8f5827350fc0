package lstm

// matvecGo is matvec's portable form and its reference in tests.
func matvecGo(m, n int, w []float32, ldw int, x, y []float32) {
	for i := 0; i < m; i++ {
		row := w[i*ldw : i*ldw+n]
		var s0, s1, s2, s3 float32
		j := 0
		for ; j+4 <= n; j += 4 {
			s0 += row[j] * x[j]
			s1 += row[j+1] * x[j+1]
			s2 += row[j+2] * x[j+2]
			s3 += row[j+3] * x[j+3]
		}
		for ; j < n; j++ {
			s0 += row[j] * x[j]
		}
		y[i] += s0 + s1 + s2 + s3
	}
}
