package intentgate_test

import data.intentgate

test_decision_is_a_set_of_two if {
	count(intentgate.decision) == 2
}
