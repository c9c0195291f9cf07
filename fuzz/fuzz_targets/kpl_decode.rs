//! The KPL de-aggregator on arbitrary record data (what any producer may put into a stream):
//! it must never panic, and what it accepts must survive a re-aggregation unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(records)) = rheo_kpl::deaggregate(data) {
        let mut agg = rheo_kpl::Aggregator::new(usize::MAX);
        for r in &records {
            assert!(agg.try_add(&r.partition_key, r.explicit_hash_key.as_deref(), &r.data));
        }
        if !records.is_empty() {
            let again = rheo_kpl::deaggregate(&agg.finish());
            assert_eq!(again, Ok(Some(records)));
        }
    }
});
