package messages

import (
	"math"
	"testing"
)

func TestJobCost(t *testing.T) {
	for _, tc := range []struct {
		price, fuelPrice, fuelUsed, want uint64
	}{
		{10, 0, 5 * FuelUnit, 10},
		{10, 1, 0, 10},
		{10, 1, 1, 11},                                    // a started unit is a unit
		{10, 1, FuelUnit, 11},                             // exactly one
		{10, 3, FuelUnit + 1, 16},                         // two
		{0, 2, 10 * FuelUnit, 20},                         // no price
		{1, math.MaxUint64, FuelUnit * 2, math.MaxUint64}, // overflow saturates
		{math.MaxUint64, 1, 1, math.MaxUint64},
	} {
		if got := JobCost(tc.price, tc.fuelPrice, tc.fuelUsed); got != tc.want {
			t.Errorf("JobCost(%d, %d, %d) = %d, want %d", tc.price, tc.fuelPrice, tc.fuelUsed, got, tc.want)
		}
	}
}
