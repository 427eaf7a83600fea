// FilterSpeak report: the filters page's search box and sort order. Nothing runs at load beyond
// reading the two controls, so a page of hundreds of cards opens at once.
(function () {
  "use strict";
  var list = document.getElementById("filter-list");
  var search = document.getElementById("filter-search");
  var sort = document.getElementById("filter-sort");
  var count = document.getElementById("filter-count");
  if (!list || !search || !sort) return;

  var cards = null; // every card, in the order the page was rendered in (selectivity, highest first)
  function allCards() {
    if (cards === null) cards = Array.prototype.slice.call(list.querySelectorAll(".filter-card"));
    return cards;
  }

  // Hide every card none of whose phrases contains the typed text (case-insensitive).
  function applySearch() {
    var text = search.value.trim().toLowerCase();
    var shown = 0;
    allCards().forEach(function (card) {
      var match = text === "" || (card.getAttribute("data-phrases") || "").indexOf(text) !== -1;
      card.hidden = !match;
      if (match) shown += 1;
    });
    if (count) count.textContent = shown + " of " + allCards().length + " filters";
  }

  // Re-order the cards in the DOM: by selectivity (highest first, ties as rendered) or by filter id.
  function applySort() {
    var byFilter = sort.value === "filter";
    var keyed = allCards().map(function (card, index) {
      return {
        card: card,
        index: index,
        filter: Number(card.getAttribute("data-filter")),
        selectivity: Number(card.getAttribute("data-selectivity")) || 0
      };
    });
    keyed.sort(function (a, b) {
      if (byFilter) return a.filter - b.filter;
      return b.selectivity - a.selectivity || a.index - b.index;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.card); });
    list.appendChild(fragment);
  }

  search.addEventListener("input", applySearch);
  sort.addEventListener("change", applySort);
  // A page restored from history keeps the controls' values: show what they say.
  window.addEventListener("pageshow", function () {
    if (search.value !== "") applySearch();
    if (sort.value !== "selectivity") applySort();
  });
})();
