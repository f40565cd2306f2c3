//! Buffer stacks: LIFO order against a model, the registered-pages limit,
//! and the errors of the stack API.

use mpipe_emu::{
    calc_buffer_stack_bytes, BufferSize, Chain, Context, Error, ALLOC_FIXED, MAX_PAGES_PER_STACK,
};
use proptest::prelude::*;

#[test]
fn allocation_and_initialization_errors() {
    let mut ctx = Context::init(0).unwrap();
    assert_eq!(
        ctx.init_buffer_stack(0, BufferSize::B128, 8),
        Err(Error::BadBufferStack)
    );
    assert_eq!(ctx.alloc_buffer_stacks(1, 5, ALLOC_FIXED), Ok(5));
    assert_eq!(
        ctx.alloc_buffer_stacks(1, 5, ALLOC_FIXED),
        Err(Error::NoBufferStack)
    );
    assert_eq!(ctx.alloc_buffer_stacks(27, 0, 0), Err(Error::NoBufferStack)); // no free run of 27
    assert_eq!(ctx.alloc_buffer_stacks(5, 0, 0), Ok(0));
    assert_eq!(ctx.alloc_buffer_stacks(26, 0, 0), Ok(6));
    assert_eq!(ctx.alloc_buffer_stacks(1, 0, 0), Err(Error::NoBufferStack));
    assert_eq!(
        ctx.init_buffer_stack(5, BufferSize::B256, 0),
        Err(Error::InvalMemorySize)
    );
    ctx.init_buffer_stack(5, BufferSize::B256, 4).unwrap();
    assert_eq!(
        ctx.init_buffer_stack(5, BufferSize::B256, 4),
        Err(Error::BadBufferStack)
    );
    assert_eq!(ctx.stack_for_size(BufferSize::B256), Some(5));
    assert_eq!(ctx.stack_for_size(BufferSize::B128), None);
    assert_eq!(ctx.push_buffer(7, 0), Err(Error::BadBufferStack));
    assert_eq!(ctx.pop_buffer(40), Err(Error::BadBufferStack));
    assert_eq!(
        BufferSize::from_enum(8).map_err(Error::from),
        Err(Error::InvalBufferSize)
    );
    assert_eq!(calc_buffer_stack_bytes(4048), 338 * 64);
}

#[test]
fn registered_pages_limit_and_page_rules() {
    let mut ctx = Context::init(0).unwrap();
    let s = ctx.alloc_buffer_stacks(1, 0, 0).unwrap();
    ctx.init_buffer_stack(s, BufferSize::B1024, 1000).unwrap();
    let page = 65536u64;
    let mem = ctx.alloc_memory(17 * page as usize, page as usize).unwrap();
    assert_eq!(
        ctx.register_page(s, mem + 4096, page),
        Err(Error::InvalMemorySize),
        "misaligned"
    );
    assert_eq!(
        ctx.register_page(s, mem, 3000),
        Err(Error::InvalMemorySize),
        "not a power of two"
    );
    assert_eq!(
        ctx.register_page(s, 1 << 30, page),
        Err(Error::InvalMemorySize),
        "not our memory"
    );
    // Unregistered memory cannot be pushed.
    assert_eq!(ctx.push_buffer(s, mem), Err(Error::IotlbEntry));
    for p in 0..MAX_PAGES_PER_STACK as u64 {
        ctx.register_page(s, mem + p * page, page).unwrap();
    }
    assert_eq!(ctx.stack_pages(s), Ok(16));
    assert_eq!(
        ctx.register_page(s, mem + 16 * page, page),
        Err(Error::IotlbEntry)
    );
    // A buffer spanning two registered pages is fine; one past the last is not.
    ctx.push_buffer(s, mem + page - 512).unwrap();
    assert_eq!(
        ctx.push_buffer(s, mem + 16 * page - 512),
        Err(Error::IotlbEntry)
    );
    assert_eq!(ctx.stack_stats(s).unwrap().push_errors, 2);
}

#[test]
fn full_stack_is_busy_and_bdesc_pop_marks_empty() {
    let mut ctx = Context::init(0).unwrap();
    let s = ctx.alloc_buffer_stacks(1, 0, 0).unwrap();
    ctx.init_buffer_stack(s, BufferSize::B128, 2).unwrap();
    let va = ctx.populate_buffer_stack(s, 2).unwrap();
    assert_eq!(ctx.push_buffer(s, va), Err(Error::Busy));
    let b = ctx.pop_buffer_bdesc(s).unwrap();
    assert_eq!(
        (b.va() as u64, b.c(), b.stack_idx(), b.size(), b.hwb()),
        (va + 128, Chain::Unchained, s as u8, 0, true)
    );
    ctx.pop_buffer(s).unwrap().unwrap();
    let e = ctx.pop_buffer_bdesc(s).unwrap();
    assert_eq!(e.c(), Chain::Invalid);
    assert_eq!(ctx.pop_buffer(s), Ok(None));
    assert_eq!(ctx.stack_stats(s).unwrap().pop_empty, 2);
    // push_buffer_bdesc uses stack_idx and ignores the low 7 bits.
    let mut b2 = b;
    b2.set_va(b.va() + 77);
    ctx.push_buffer_bdesc(b2).unwrap();
    assert_eq!(ctx.pop_buffer(s), Ok(Some(va + 128)));
}

#[derive(Clone, Debug)]
enum Op {
    Push(usize),
    Pop,
}

proptest! {
    /// Pushes and pops behave as a LIFO stack of buffer addresses.
    #[test]
    fn stacks_are_lifo(size in 0u32..8, ops in proptest::collection::vec(
        prop_oneof![(0usize..32).prop_map(Op::Push), Just(Op::Pop)], 1..200))
    {
        let size = BufferSize::from_enum(size).unwrap();
        let mut ctx = Context::init(0).unwrap();
        let s = ctx.alloc_buffer_stacks(1, 0, 0).unwrap();
        ctx.init_buffer_stack(s, size, 16).unwrap();
        let base = ctx.populate_buffer_stack(s, 16).unwrap();
        // Empty it, then replay against a Vec model (capacity 16).
        while ctx.pop_buffer(s).unwrap().is_some() {}
        let mut model: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Push(i) => {
                    let va = base + ((i % 16) * size.bytes()) as u64 + (i as u64 % 128);
                    let r = ctx.push_buffer(s, va);
                    if model.len() < 16 {
                        prop_assert_eq!(r, Ok(()));
                        model.push(va & !127);
                    } else {
                        prop_assert_eq!(r, Err(Error::Busy));
                    }
                }
                Op::Pop => prop_assert_eq!(ctx.pop_buffer(s).unwrap(), model.pop()),
            }
            prop_assert_eq!(ctx.stack_len(s).unwrap(), model.len());
        }
    }
}
