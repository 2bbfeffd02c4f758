package views

func fieldIn(f string, fields []string) bool {
	for _, x := range fields {
		if x == f {
			return true
		}
	}
	return false
}
