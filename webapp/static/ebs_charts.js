/* The dashboard's charts (webapp/templates/dashboard_charts.html) and the account
   card's traffic (webapp/templates/accounts/traffic_tab.html): Chart.js, Debian's
   libjs-chart.js served by the app, draws the series the page carries in a JSON script
   tag. Amounts arrive as strings; they become numbers only to be drawn, the exact figures
   are in the tables under the charts. Without Chart.js the tables stay. */
(function () {
  "use strict";
  var source = document.getElementById("ebs-series-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var options = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    scales: {y: {beginAtZero: true}}
  };

  function draw(id, type, labels, datasets) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, {type: type, data: {labels: labels, datasets: datasets(canvas)},
                         options: options});
    }
  }

  draw("ebs-chart-money", "bar", data.days, function (canvas) {
    return [
      {label: canvas.dataset.payments, data: data.payments.map(Number),
       backgroundColor: "#5cb85c"},
      {label: canvas.dataset.charges, data: data.charges.map(Number),
       backgroundColor: "#d9534f"}
    ];
  });
  draw("ebs-chart-online", "line", data.hours, function (canvas) {
    return [
      {label: canvas.dataset.online, data: data.online, borderColor: "#337ab7",
       backgroundColor: "#337ab7", spanGaps: false, tension: 0.2}
    ];
  });

  // The account card's Traffic tab (templates/accounts/traffic_tab.html): megabytes in
  // and out per day and per hour.
  function inOut(prefix) {
    return function (canvas) {
      return [
        {label: canvas.dataset["in"], data: data[prefix + "_in"].map(Number),
         backgroundColor: "#337ab7", borderColor: "#337ab7"},
        {label: canvas.dataset.out, data: data[prefix + "_out"].map(Number),
         backgroundColor: "#f0ad4e", borderColor: "#f0ad4e"}
      ];
    };
  }
  draw("ebs-chart-traffic-day", "bar", data.traffic_days, inOut("traffic_day"));
  draw("ebs-chart-traffic-hour", "bar", data.traffic_hours, inOut("traffic_hour"));
}());
