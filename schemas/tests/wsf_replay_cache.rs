//! The MessageID replay cache: memory per entry at a million IDs (measured from the table's
//! capacity and, independently, by a counting allocator), expiry and the size bound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;

use schemas::wsf::replay::{InMemoryMessageIdCache, MessageIdCache};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Counts live heap bytes of this test binary.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this binary measure the heap: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn now() -> OffsetDateTime {
    datetime!(2010-04-01 09:00:00 UTC)
}

#[test]
fn a_million_message_ids_take_under_64_bytes_each() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    const N: usize = 1_000_000;
    let before = LIVE.load(Ordering::Relaxed);
    let cache = InMemoryMessageIdCache::with_clock(2 * N, now);
    let expires = now() + Duration::seconds(360);
    let mut id = String::with_capacity(64);
    for i in 0..N {
        id.clear();
        use std::fmt::Write;
        write!(id, "urn:uuid:{:08x}-0000-4000-8000-{:012x}", i % 7, i).unwrap();
        assert!(cache.check_and_insert("https://portal.nabari.example/", &id, expires));
    }
    let live = (LIVE.load(Ordering::Relaxed) - before) as usize;
    assert_eq!(cache.len(), N);
    assert_eq!(cache.evictions(), 0);
    let by_capacity = cache.memory_bytes() as f64 / N as f64;
    let by_allocator = live as f64 / N as f64;
    println!(
        "replay cache, {N} IDs: {by_capacity:.1} bytes/entry from the table capacity, \
         {by_allocator:.1} bytes/entry of live heap ({:.1} MB)",
        live as f64 / 1e6
    );
    assert!(by_capacity < 64.0, "{by_capacity} bytes/entry");
    assert!(by_allocator < 64.0, "{by_allocator} bytes/entry");
    // The estimate is the table itself.
    assert!((by_capacity - by_allocator).abs() < 2.0);

    // Every ID is still a replay; another sender's same ID is not.
    for i in (0..N).step_by(99_991) {
        let id = format!("urn:uuid:{:08x}-0000-4000-8000-{:012x}", i % 7, i);
        assert!(!cache.check_and_insert("https://portal.nabari.example/", &id, expires));
        assert!(cache.check_and_insert("https://other.nabari.example/", &id, expires));
    }
}

#[test]
fn entries_expire_and_the_bound_holds() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let clock = std::sync::Arc::new(Mutex::new(now()));
    let c2 = clock.clone();
    let cache = InMemoryMessageIdCache::with_clock(1000, move || *c2.lock().unwrap());
    let sender = "https://portal.nabari.example/";
    for i in 0..1000 {
        assert!(cache.check_and_insert(sender, &format!("m{i}"), now() + Duration::seconds(60)));
    }
    assert!(!cache.check_and_insert(sender, "m1", now() + Duration::seconds(60)));
    // Full: a new ID evicts the entries closest to expiry, never refuses.
    assert!(cache.check_and_insert(sender, "late", now() + Duration::seconds(300)));
    assert!(cache.len() <= 1000);
    assert!(cache.evictions() > 0);
    assert!(!cache.check_and_insert(sender, "late", now() + Duration::seconds(300)));
    // Time passes: expired entries are swept and their IDs are free again.
    *clock.lock().unwrap() = now() + Duration::seconds(61);
    cache.purge();
    assert_eq!(cache.len(), 1);
    assert!(cache.check_and_insert(sender, "m1", now() + Duration::seconds(121)));
    assert!(!cache.check_and_insert(sender, "late", now() + Duration::seconds(300)));
}
