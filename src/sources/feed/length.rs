//! A feed entry's video length, which the poll cadence predicts the task's
//! processing time from: MRSS `media:content duration` / `media:group`,
//! or podcasting's `itunes:duration` (feed-rs reads both).

use feed_rs::model::Entry;

/// The entry's length in whole seconds: its media object's, else the
/// first of its media contents that names one; none for zero.
pub(super) fn of(entry: &Entry) -> Option<u32> {
    let objects = entry.media.iter();
    let length = objects
        .clone()
        .find_map(|m| m.duration)
        .or_else(|| objects.flat_map(|m| &m.content).find_map(|c| c.duration))?;
    u32::try_from(length.as_secs()).ok().filter(|s| *s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_entry(xml: &str) -> Entry {
        feed_rs::parser::parse(xml.as_bytes())
            .unwrap()
            .entries
            .remove(0)
    }

    #[test]
    fn media_content_and_itunes_durations_are_read() {
        let mrss = first_entry(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>
<item><title>a</title><link>https://e.com/a.mp4</link>
<media:content url="https://e.com/a.mp4" type="video/mp4" duration="754"/></item></channel></rss>"#,
        );
        assert_eq!(of(&mrss), Some(754));
        let podcast = first_entry(
            r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>t</title>
<item><title>a</title><enclosure url="https://e.com/a.mp4" type="video/mp4" length="1"/>
<itunes:duration>1:02:03</itunes:duration></item></channel></rss>"#,
        );
        assert_eq!(of(&podcast), Some(3723));
        let none = first_entry(
            r#"<rss version="2.0"><channel><title>t</title><item><title>a</title><link>https://e.com/a.mp4</link></item></channel></rss>"#,
        );
        assert_eq!(of(&none), None);
    }
}
