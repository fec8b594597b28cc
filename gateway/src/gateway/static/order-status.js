// While an order waits for its payment confirmation, check its page every 3 seconds and reload it
// once the status has changed (no timed refresh of an unchanged page).
(function () {
  var status = document.getElementById("order-status");
  if (!status || status.dataset.status !== "pending") return;
  var checks = 0;
  var timer = setInterval(function () {
    if (++checks > 100) { clearInterval(timer); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var match = html.match(/id="order-status" data-status="([a-z_]+)"/);
        if (match && match[1] !== "pending") { clearInterval(timer); window.location.reload(); }
      })
      .catch(function () {});
  }, 3000);
})();
