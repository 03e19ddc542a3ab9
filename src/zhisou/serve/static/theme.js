// Apply the saved colour theme before the first paint (no flash of the wrong theme).
(function () {
  try {
    var theme = localStorage.getItem("zhisou-theme");
    if (theme) document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage disabled: follow the system setting */ }
})();
