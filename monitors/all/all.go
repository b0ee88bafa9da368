package all

import (
	// Each import registers one site monitor in its init function.
	_ "github.com/stellarfeed/stellarfeed/monitors/amazon"
	_ "github.com/stellarfeed/stellarfeed/monitors/shopify"
	_ "github.com/stellarfeed/stellarfeed/monitors/walmart"
)
