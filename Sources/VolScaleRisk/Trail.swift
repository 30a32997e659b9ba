/// The recent part of a sequence that only grows at its end, indexed as the whole sequence
/// is: elements before `base` have been forgotten. A walker keeps what its windows still
/// reach and forgets the rest, so its memory is bounded by its model's windows however long
/// it runs.
struct Trail<Element>: Sendable where Element: Sendable {
    /// Index (in the whole sequence) of the first element kept.
    private(set) var base = 0
    private(set) var items: [Element] = []

    init() {}

    init(base: Int, items: [Element]) {
        self.base = base
        self.items = items
    }

    /// Elements appended so far (forgotten ones included): the next index.
    var endIndex: Int { base + items.count }

    /// The element at index `i` of the whole sequence (kept: `base <= i < endIndex`).
    subscript(i: Int) -> Element { items[i - base] }

    subscript(r: ClosedRange<Int>) -> ArraySlice<Element> { items[(r.lowerBound - base)...(r.upperBound - base)] }
    subscript(r: Range<Int>) -> ArraySlice<Element> { items[(r.lowerBound - base)..<(r.upperBound - base)] }

    mutating func append(_ e: Element) { items.append(e) }

    /// Forgets the elements before index `i` once they are at least as many as those kept
    /// (amortised O(1) per element: each is moved at most once more before it goes).
    mutating func forget(before i: Int) {
        let n = min(i, endIndex) - base
        guard n > 0, n >= items.count - n else { return }
        items.removeFirst(n)
        base += n
    }

    /// The elements from index `i` on (all kept ones when `i` is before `base`).
    func suffix(from i: Int) -> (base: Int, items: [Element]) {
        let from = min(max(i, base), endIndex)
        return (from, Array(items[(from - base)...]))
    }
}
