package fuel

// InstrumentCharges is Instrument for the tests: the module's binary and
// the number of charges (L -= c) written in it, with the charges moved
// (settle) or, with keep, each left in its own segment.
func InstrumentCharges(src []byte, keep bool) ([]byte, int, error) {
	m, n, err := instrument(src, keep)
	if err != nil {
		return nil, 0, err
	}
	return m.Binary, n, nil
}
