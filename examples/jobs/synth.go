package jobs

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// This file generates the synthetic source data: customers and click-stream
// events. Everything is a pure function of the partition key, so running a
// job twice for one partition writes the same bytes and gets the same data
// version.

// rngFor returns a random source seeded from parts (e.g. asset key and
// partition key).
func rngFor(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// Regions of the example (the static partitions of raw/customers).
var regions = []string{"eu", "us", "apac"}

// numCustomers is the size of the customer base.
const numCustomers = 30000

var countries = map[string][]string{
	"eu":   {"DE", "FR", "NL", "ES", "IT", "PL", "SE"},
	"us":   {"US"},
	"apac": {"JP", "AU", "SG", "IN", "KR"},
}

// Customer is a row of raw/customers.
type Customer struct {
	CustomerID int64  `parquet:"customer_id"`
	Name       string `parquet:"name"`
	Region     string `parquet:"region,dict"`
	Country    string `parquet:"country,dict"`
	Segment    string `parquet:"segment,dict"`
	SignupDate string `parquet:"signup_date"`
}

// customer returns customer id (1..numCustomers); the same id always gives
// the same customer.
func customer(id int64) Customer {
	r := rngFor("customer", fmt.Sprint(id))
	region := "eu"
	switch x := r.Float64(); {
	case x < 0.45:
	case x < 0.80:
		region = "us"
	default:
		region = "apac"
	}
	cs := countries[region]
	segment := "consumer"
	switch x := r.Float64(); {
	case x < 0.05:
		segment = "enterprise"
	case x < 0.20:
		segment = "smb"
	}
	syll := []string{"ka", "ro", "mi", "len", "sa", "to", "vi", "na", "ber", "lu", "an", "de", "ori", "zu"}
	name := ""
	for range 2 + r.IntN(2) {
		name += syll[r.IntN(len(syll))]
	}
	name = string(name[0]-'a'+'A') + name[1:]
	signup := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(6*365))
	return Customer{CustomerID: id, Name: name, Region: region, Country: cs[r.IntN(len(cs))],
		Segment: segment, SignupDate: signup.Format(dailyFmt)}
}

// customersOf returns the customers of a region, by id.
func customersOf(region string) []Customer {
	var out []Customer
	for id := int64(1); id <= numCustomers; id++ {
		if c := customer(id); c.Region == region {
			out = append(out, c)
		}
	}
	return out
}

// Event is a row of raw/events.
type Event struct {
	EventID     int64     `parquet:"event_id"`
	Time        time.Time `parquet:"ts,timestamp(millisecond)"`
	CustomerID  int64     `parquet:"customer_id"`
	Type        string    `parquet:"event_type,dict"`
	Page        string    `parquet:"page,dict"`
	AmountCents int64     `parquet:"amount_cents"`
}

// Bounds of the number of events in one hour (before scaling).
const (
	minEventsPerHour = 2000
	maxEventsPerHour = 100000
)

// eventsInHour is how many events the hour starting at t has: a daily curve
// peaking in the (European) evening, quieter weekends, busy Fridays and a
// little noise, between minEventsPerHour and maxEventsPerHour.
func eventsInHour(t time.Time, r *rand.Rand) int {
	h := float64(t.Hour()) + 0.5
	// Two peaks: lunch (12:00 UTC) and evening (19:00 UTC).
	curve := 0.55*math.Exp(-sq(h-12)/(2*sq(2.5))) + math.Exp(-sq(h-19)/(2*sq(2.2)))
	day := map[time.Weekday]float64{time.Monday: 0.8, time.Tuesday: 0.85, time.Wednesday: 0.9,
		time.Thursday: 0.95, time.Friday: 1.0, time.Saturday: 0.55, time.Sunday: 0.45}[t.Weekday()]
	noise := 0.9 + 0.2*r.Float64()
	n := minEventsPerHour + int(float64(maxEventsPerHour-minEventsPerHour)*curve*day*noise)
	return min(max(n, minEventsPerHour), maxEventsPerHour)
}

func sq(x float64) float64 { return x * x }

var pages = []string{"/", "/search", "/product", "/product", "/product", "/cart", "/account", "/help"}

// eventsForHour generates the events of the hour starting at t, scaled by
// scale (1 for the demo; tests use less), sorted by time. Sessions are
// simulated: a customer (popular ones more often) browses pages a few
// seconds to minutes apart and sometimes buys.
func eventsForHour(t time.Time, scale float64) []Event {
	r := rngFor("raw/events", t.UTC().Format(hourlyFmt))
	n := max(1, int(float64(eventsInHour(t, r))*scale))
	out := make([]Event, 0, n)
	zipf := rand.NewZipf(r, 1.1, 20, numCustomers-1)
	baseID := t.Unix() / 3600 * 10_000_000
	for len(out) < n {
		cust := int64(zipf.Uint64()) + 1
		at := t.Add(time.Duration(r.Int64N(int64(time.Hour))))
		steps := 1 + r.IntN(14)
		for s := 0; s < steps && len(out) < n; s++ {
			if !at.Before(t.Add(time.Hour)) {
				break
			}
			typ, page, amount := "page_view", pages[r.IntN(len(pages))], int64(0)
			switch x := r.Float64(); {
			case s == steps-1 && x < 0.22:
				typ, page, amount = "purchase", "/checkout", int64(500+r.IntN(20000))
			case x < 0.15:
				typ, page = "add_to_cart", "/product"
			case x < 0.35:
				typ = "click"
			}
			// EventID holds the generation order until the sort below.
			out = append(out, Event{EventID: int64(len(out)), Time: at.Truncate(time.Millisecond), CustomerID: cust, Type: typ, Page: page, AmountCents: amount})
			at = at.Add(time.Duration(5+r.IntN(240)) * time.Second)
		}
	}
	slices.SortFunc(out, func(a, b Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.EventID, b.EventID)
	})
	for i := range out {
		out[i].EventID = baseID + int64(i)
		out[i].Time = out[i].Time.UTC()
	}
	return out
}
