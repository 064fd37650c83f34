//! Where work comes from: feeds, the drop folder and `submit`. Every source is
//! reduced to a canonical key ([`identity`]) before it reaches the store, so a
//! video is clipped once whichever feed or file named it first.

pub mod identity;
