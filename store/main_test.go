package store_test

import (
	"testing"

	"stockline/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
